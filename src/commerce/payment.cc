#include "commerce/payment.h"

#include <cctype>

#include "base/encoding.h"
#include "base/time_format.h"
#include "commerce/money.h"

namespace tieup::commerce {
namespace {

// Remainder mod 97 of the number formed by `text` with letters as 10..35 (ISO 7064 MOD 97-10).
int Mod97(std::string_view text) {
  int rem = 0;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
      rem = (rem * 10 + v) % 97;
    } else {
      v = std::toupper(static_cast<unsigned char>(c)) - 'A' + 10;
      rem = (rem * 100 + v) % 97;
    }
  }
  return rem;
}

std::string BankLines(const BankDetails& bank) {
  std::string s = "Account holder: " + bank.account_holder + "\nIBAN: " + bank.iban + "\n";
  if (!bank.bic.empty()) s += "BIC: " + bank.bic + "\n";
  if (!bank.bank_name.empty()) s += "Bank: " + bank.bank_name + "\n";
  return s;
}

class BankTransferProvider final : public PaymentProvider {
 public:
  explicit BankTransferProvider(BankDetails bank) : bank_(std::move(bank)) {}
  std::string_view id() const override { return "bank_transfer"; }
  std::string_view title() const override { return "Bank transfer"; }
  std::string_view summary() const override {
    return "Pay in advance by bank transfer; we ship when your payment arrives.";
  }
  Result<PaymentSetup> Setup(const PaymentContext& c) const override {
    PaymentSetup s;
    ASSIGN_OR_RETURN(s.reference, CreditorReference(std::to_string(c.order_id)));
    s.instructions = "Please transfer " + FormatMoney(c.total_minor, c.currency, c.locale) +
                     " with the reference " + s.reference + " to:\n" + BankLines(bank_) +
                     "We ship your order as soon as the payment arrives.";
    return s;
  }
  Result<std::string> RecordPayment(const PaymentContext& c, std::string_view reference,
                                    std::string_view note) const override {
    if (note.empty()) {
      return Status::InvalidArgument(
          "marking a bank transfer paid needs a note identifying the transfer (for example the "
          "date and the bank statement line)");
    }
    return "bank transfer of " + FormatMoney(c.total_minor, c.currency, c.locale) +
           " with reference " + std::string(reference) + " received: " + std::string(note);
  }

 private:
  BankDetails bank_;
};

class CashOnDeliveryProvider final : public PaymentProvider {
 public:
  std::string_view id() const override { return "cash_on_delivery"; }
  std::string_view title() const override { return "Cash on delivery"; }
  std::string_view summary() const override {
    return "Pay the carrier in cash when your parcel arrives.";
  }
  bool ships_before_payment() const override { return true; }
  Result<PaymentSetup> Setup(const PaymentContext& c) const override {
    PaymentSetup s;
    s.instructions = "Please have " + FormatMoney(c.total_minor, c.currency, c.locale) +
                     " ready in cash for the carrier when your parcel arrives.";
    return s;
  }
  Result<std::string> RecordPayment(const PaymentContext& c, std::string_view,
                                    std::string_view note) const override {
    std::string s =
        "cash of " + FormatMoney(c.total_minor, c.currency, c.locale) + " collected on delivery";
    if (!note.empty()) s += ": " + std::string(note);
    return s;
  }
};

class InvoiceProvider final : public PaymentProvider {
 public:
  InvoiceProvider(BankDetails bank, int due_days) : bank_(std::move(bank)), due_days_(due_days) {}
  std::string_view id() const override { return "invoice"; }
  std::string_view title() const override { return "Invoice"; }
  std::string_view summary() const override {
    return "We ship first; pay the invoice that comes with your order.";
  }
  bool ships_before_payment() const override { return true; }
  Result<PaymentSetup> Setup(const PaymentContext& c) const override {
    PaymentSetup s;
    s.reference = "INV-" + c.order_number;
    s.due_micros = c.now_micros + int64_t{due_days_} * 86400 * 1'000'000;
    std::string due = FormatDate(s.due_micros, c.time_zone, c.locale);
    s.instructions = "We send invoice " + s.reference + " over " +
                     FormatMoney(c.total_minor, c.currency, c.locale) +
                     " with your order. Please pay by " + due + " to:\n" + BankLines(bank_) +
                     "Reference: " + s.reference;
    return s;
  }
  Result<std::string> RecordPayment(const PaymentContext& c, std::string_view reference,
                                    std::string_view note) const override {
    std::string s = "invoice " + std::string(reference) + " over " +
                    FormatMoney(c.total_minor, c.currency, c.locale) + " paid";
    if (!note.empty()) s += ": " + std::string(note);
    return s;
  }

 private:
  BankDetails bank_;
  int due_days_;
};

}  // namespace

Result<std::string> CreditorReference(std::string_view reference) {
  bool ok = !reference.empty() && reference.size() <= 21;
  for (char c : reference) ok = ok && std::isalnum(static_cast<unsigned char>(c));
  if (!ok) {
    return Status::InvalidArgument("a creditor reference takes 1 to 21 letters and digits, not '" +
                                   std::string(reference) + "'");
  }
  std::string upper;
  for (char c : reference) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int check = 98 - Mod97(upper + "RF00");
  std::string digits = std::to_string(check);
  if (digits.size() == 1) digits = "0" + digits;
  return "RF" + digits + upper;
}

bool IsValidCreditorReference(std::string_view text) {
  std::string compact;
  for (char c : text) {
    if (c == ' ') continue;
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    compact += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (compact.size() < 5 || compact.size() > 25 || compact.substr(0, 2) != "RF") return false;
  if (!std::isdigit(static_cast<unsigned char>(compact[2])) ||
      !std::isdigit(static_cast<unsigned char>(compact[3]))) {
    return false;
  }
  return Mod97(compact.substr(4) + compact.substr(0, 4)) == 1;
}

std::shared_ptr<PaymentProvider> NewBankTransferProvider(BankDetails bank) {
  return std::make_shared<BankTransferProvider>(std::move(bank));
}
std::shared_ptr<PaymentProvider> NewCashOnDeliveryProvider() {
  return std::make_shared<CashOnDeliveryProvider>();
}
std::shared_ptr<PaymentProvider> NewInvoiceProvider(BankDetails bank, int due_days) {
  return std::make_shared<InvoiceProvider>(std::move(bank), due_days);
}

}  // namespace tieup::commerce
