// JSON forms of the delegate and consult calls, for the integrator to carry over the signed
// sync channel (the signature, replay cache and transport are the caller's). Parsing is strict:
// unknown or missing fields, wrong types, and oversized input are kInvalidArgument with a
// message naming the field. The partner id (OrderRequest::channel) is carried for
// completeness, but main must set it from the verified signature, never trust the body.
//
//   OrderRequest  {"channel","area","idempotency_key","payment_method","check_inventory",
//                  "actor","customer":{name,address_line1,address_line2,postal_code,city,
//                  country,email,phone},"lines":[{"sku","quantity"[,"unit_price_minor",
//                  "title","tax_class","expected_unit_price_minor"]}]}
//   OrderReceipt  {"replayed","number","access_key","status","paid","channel","area",
//                  "currency","subtotal_minor","tax_minor","shipping_minor","total_minor",
//                  "payment_method","payment_reference","payment_instructions",
//                  "created_micros","lines":[{sku,title,quantity,unit_price_minor,
//                  line_total_minor,tax_class,tax_rate_bp,tax_minor}]}
//   quote request {"lines":[{"sku","quantity"}]}
//   ConsultCommand {"accept","reason","check_inventory","prices":[{sku,unit_price_minor,title,
//                  tax_class}]}
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "commerce/shop.h"

namespace tieup::commerce {

inline constexpr size_t kMaxWireBytes = 256 * 1024;

// The customer's fields as the order request carries them ("name", "address_line1",
// "address_line2", "postal_code", "city", "country", "email", "phone"); also a customer's data
// export (main_site/users_service.cc).
boost::json::object CustomerToJson(const Customer& customer);

std::string OrderRequestToJson(const OrderRequest& request);
Result<OrderRequest> OrderRequestFromJson(std::string_view json);

// The receipt carries what the partner needs to answer the customer (not the event history or
// the shipment).
std::string OrderReceiptToJson(const OrderReceipt& receipt);
Result<OrderReceipt> OrderReceiptFromJson(std::string_view json);

std::string QuoteRequestToJson(const std::vector<QuoteLineRequest>& lines);
Result<std::vector<QuoteLineRequest>> QuoteRequestFromJson(std::string_view json);

std::string ConsultCommandToJson(const ConsultCommand& command);
Result<ConsultCommand> ConsultCommandFromJson(std::string_view json);

}  // namespace tieup::commerce
