// Payment methods a small operator can use without an external gateway (bank transfer with a
// structured reference, cash on delivery, invoice), behind PaymentProvider so that a gateway
// can be added later (its Setup would return a redirect_url).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tieup::commerce {

// What a provider learns about the order it sets payment up for.
struct PaymentContext {
  std::string order_number;  // "M-000042"
  int64_t order_id = 0;      // the shop's numeric order id (> 0)
  int64_t total_minor = 0;
  std::string currency;
  int64_t now_micros = 0;  // the Env clock at checkout
  std::string shop_name;
  std::string locale = "en";      // how amounts and dates are written (BCP 47)
  std::string time_zone = "UTC";  // the site's time zone, for due dates
};

// What the customer is told and what the order records.
struct PaymentSetup {
  std::string reference;     // bank reference, invoice number; may be empty
  std::string instructions;  // plain text shown on the confirmation page and in the mail
  int64_t due_micros = 0;    // payment due date (invoice); 0 when none
  std::string redirect_url;  // for a gateway: where to send the customer; empty for built-ins
};

// One payment method. Implementations must be thread-safe (Setup runs concurrently for
// different orders) and deterministic for a given context.
class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // Stable id stored with orders and used in forms ("bank_transfer").
  virtual std::string_view id() const = 0;
  // The name customers see ("Bank transfer").
  virtual std::string_view title() const = 0;
  // One line for the checkout form ("Pay in advance; we ship when the money arrives.").
  virtual std::string_view summary() const = 0;
  // True when goods may ship before payment (cash on delivery, invoice): the order may go
  // placed -> shipped, and payment is recorded later without changing the order's status.
  virtual bool ships_before_payment() const { return false; }
  // Called inside the order's transaction, after its number is known. An error aborts the order.
  virtual Result<PaymentSetup> Setup(const PaymentContext& context) const = 0;
  // Called when a manager marks the order paid; `note` is what the manager typed (bank
  // statement line, receipt number). Returns the text recorded with the order, or an error
  // saying what is missing.
  virtual Result<std::string> RecordPayment(const PaymentContext& context,
                                            std::string_view reference,
                                            std::string_view note) const = 0;
};

// Where bank transfers go; shown to customers.
struct BankDetails {
  std::string account_holder;
  std::string iban;
  std::string bic;
  std::string bank_name;
};

// Pay in advance by bank transfer. The reference is an ISO 11649 creditor reference ("RF" +
// check digits + the order id), which banks check for typos.
std::shared_ptr<PaymentProvider> NewBankTransferProvider(BankDetails bank);
// Cash on delivery: the carrier collects the total.
std::shared_ptr<PaymentProvider> NewCashOnDeliveryProvider();
// Invoice: goods ship first; the invoice (numbered after the order) is due after `due_days`,
// payable to `bank`.
std::shared_ptr<PaymentProvider> NewInvoiceProvider(BankDetails bank, int due_days);

// The ISO 11649 creditor reference for `reference` (1..21 alphanumerics): "RF" + two check
// digits + reference. kInvalidArgument for other input.
Result<std::string> CreditorReference(std::string_view reference);
// True iff `text` is a valid ISO 11649 creditor reference (spaces allowed, case-insensitive).
bool IsValidCreditorReference(std::string_view text);

}  // namespace tieup::commerce
