#include <gtest/gtest.h>

#include "commerce/form.h"
#include "commerce/money.h"
#include "commerce/payment.h"
#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

// As a customer reads them (ICU): the symbol, the currency's minor digits, thousands separators.
TEST(MoneyTest, FormatsPerCurrencyAndLocale) {
  EXPECT_EQ(FormatMoney(1250, "EUR"), "€12.50");
  EXPECT_EQ(FormatMoney(5, "EUR"), "€0.05");
  EXPECT_EQ(FormatMoney(-300, "EUR"), "-€3.00");
  EXPECT_EQ(FormatMoney(123456789, "EUR"), "€1,234,567.89");
  EXPECT_EQ(FormatMoney(27490, "JPY"), "¥27,490");  // no minor units
  EXPECT_EQ(FormatMoney(27490, "JPY", "ja-JP"), "￥27,490");
  EXPECT_EQ(FormatMoney(123450, "EUR", "de-DE"), "1.234,50\u00a0€");
  EXPECT_THAT(FormatMoney(1234, "KWD"), HasSubstr("1.234"));  // three minor digits
  // Exact to the last minor unit, far beyond a double's precision.
  EXPECT_EQ(FormatMoney(INT64_MIN, "EUR"), "-€92,233,720,368,547,758.08");
  // An unknown locale falls back to English; an unknown currency shows its code.
  EXPECT_EQ(FormatMoney(1250, "EUR", "not a locale!"), "€12.50");
  EXPECT_THAT(FormatMoney(1250, "XQQ"), HasSubstr("12.50"));
  EXPECT_THAT(FormatMoney(1250, "XQQ"), HasSubstr("XQQ"));
}

TEST(FormTest, CookieValueFindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; tieup_cart=XYZ ; b=2", "tieup_cart"), "XYZ");
  EXPECT_EQ(CookieValue("tieup_cart=first; tieup_cart=second", "tieup_cart"), "first");
  EXPECT_EQ(CookieValue("tieup_cart_count=3", "tieup_cart"), "");
  EXPECT_EQ(CookieValue("tieup_cart", "tieup_cart"), "");
  EXPECT_EQ(CookieValue("", "tieup_cart"), "");
  EXPECT_EQ(CookieValue(";;  ; x = y ;", "x"), "y");
}

TEST(MoneyTest, ParsesStrictly) {
  EXPECT_EQ(*ParseMoney("12.50", "EUR"), 1250);
  EXPECT_EQ(*ParseMoney("12.5", "EUR"), 1250);
  EXPECT_EQ(*ParseMoney("12", "EUR"), 1200);
  EXPECT_EQ(*ParseMoney("0.05", "EUR"), 5);
  EXPECT_EQ(*ParseMoney("1200", "JPY"), 1200);
  EXPECT_THAT(ParseMoney("12.505", "EUR"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("decimals")));
  EXPECT_THAT(ParseMoney("12.5", "JPY"), StatusIs(StatusCode::kInvalidArgument));
  for (std::string bad : {"", "-1", "+1", "1,000", "1 000", ".5", "5.", "1e3", "abc", "1.2.3"}) {
    EXPECT_THAT(ParseMoney(bad, "EUR"), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseMoney("99999999999999999999", "EUR"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseMoney("10000000000.01", "EUR"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("largest price")));
  EXPECT_THAT(ParseMoney("1", "euro"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(MoneyTest, CheckedMathAndBasisPoints) {
  EXPECT_EQ(*CheckedMul(999, kMaxUnitPriceMinor, "x"), 999 * kMaxUnitPriceMinor);
  EXPECT_THAT(CheckedMul(INT64_MAX / 2 + 1, 2, "the total"),
              StatusIs(StatusCode::kOutOfRange, HasSubstr("the total")));
  EXPECT_THAT(CheckedAdd(INT64_MAX, 1, "x"), StatusIs(StatusCode::kOutOfRange));
  EXPECT_EQ(*ApplyBasisPoints(3750, 1900), 713);  // 712.5 rounds up
  EXPECT_EQ(*ApplyBasisPoints(3749, 1900), 712);
  EXPECT_EQ(*ApplyBasisPoints(999 * kMaxUnitPriceMinor, 10000), 999 * kMaxUnitPriceMinor);
}

TEST(FormTest, ParsesUrlEncoded) {
  auto f = ParseForm("a=1&b=x+y%21&empty=&flag&c=%C3%BC");
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->Get("a"), "1");
  EXPECT_EQ(f->Get("b"), "x y!");
  EXPECT_TRUE(f->Has("empty"));
  EXPECT_TRUE(f->Has("flag"));
  EXPECT_EQ(f->Get("c"), "ü");
  EXPECT_EQ(f->Get("missing"), "");
  EXPECT_EQ(ParseForm("")->size(), 0u);
  EXPECT_EQ(ParseForm("a=1&&b=2&")->size(), 2u);
}

TEST(FormTest, RefusesMalformedForms) {
  EXPECT_THAT(ParseForm("a=%"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("percent")));
  EXPECT_THAT(ParseForm("a=%4"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseForm("a=%GG"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseForm("a=1&a=2"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("'a'")));
  EXPECT_THAT(ParseForm("=1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("without a name")));
  EXPECT_THAT(ParseForm("a=%00"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("control")));
  EXPECT_THAT(ParseForm("a=%FF"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_THAT(ParseForm("a=%ED%A0%80"), StatusIs(StatusCode::kInvalidArgument));  // surrogate
  EXPECT_THAT(ParseForm("a=%C0%AF"), StatusIs(StatusCode::kInvalidArgument));     // overlong
  FormLimits small{10, 2, 4};
  EXPECT_THAT(ParseForm("a=12345678901", small), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(ParseForm("a=12345", small), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(ParseForm("a&b&c", small), StatusIs(StatusCode::kResourceExhausted));
  // Multi-line values are fine (a textarea), single-line checks refuse them.
  ASSERT_THAT(ParseForm("a=x%0D%0Ay"), IsOk());
  EXPECT_THAT(CheckTextField("x\r\ny", "Name", 100, true),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("single line")));
  EXPECT_THAT(CheckTextField("  ", "Name", 100, true),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Name is required")));
}

TEST(FormTest, EscapesHtmlAndEncodesUrls) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(PercentEncode("a b/ü?&="), "a%20b%2F%C3%BC%3F%26%3D");
  EXPECT_EQ(*PercentDecode(PercentEncode("a b/ü?&="), false), "a b/ü?&=");
}

TEST(FormTest, ParsesPlainDigitsOnly) {
  EXPECT_EQ(ParseDigits("0", 6), 0);
  EXPECT_EQ(ParseDigits("2500", 6), 2500);
  EXPECT_EQ(ParseDigits("999999999999999999", 99), 999999999999999999);  // 18 digits at most
  for (std::string_view bad : {"", "-1", "+1", " 1", "1.0", "1e3", "0x10", "1234567", "١"}) {
    EXPECT_EQ(ParseDigits(bad, 6), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseDigits("1000000000000000000", 99), std::nullopt);  // 19 digits
}

TEST(PaymentTest, CreditorReferences) {
  // The example of ISO 11649.
  EXPECT_EQ(*CreditorReference("539007547034"), "RF18539007547034");
  EXPECT_TRUE(IsValidCreditorReference("RF18 5390 0754 7034"));
  EXPECT_FALSE(IsValidCreditorReference("RF19539007547034"));
  EXPECT_FALSE(IsValidCreditorReference("RF18539007547035"));
  for (int id : {1, 42, 999999}) {
    auto ref = CreditorReference(std::to_string(id));
    ASSERT_THAT(ref, IsOk());
    EXPECT_TRUE(IsValidCreditorReference(*ref)) << *ref;
  }
  EXPECT_THAT(CreditorReference(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CreditorReference("a-b"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(PaymentTest, ProvidersSetUpAndRecord) {
  BankDetails bank{"Shop GmbH", "DE89370400440532013000", "COBADEFFXXX", ""};
  PaymentContext ctx{"M-000042", 42, 2500, "EUR", 1'790'000'000'000'000, "Mug Shop"};
  auto bt = NewBankTransferProvider(bank);
  auto setup = bt->Setup(ctx);
  ASSERT_THAT(setup, IsOk());
  EXPECT_EQ(setup->reference, *CreditorReference("42"));
  EXPECT_THAT(setup->instructions, HasSubstr("€25.00"));
  EXPECT_THAT(setup->instructions, HasSubstr("COBADEFFXXX"));
  EXPECT_FALSE(bt->ships_before_payment());
  EXPECT_THAT(bt->RecordPayment(ctx, setup->reference, ""), StatusIs(StatusCode::kInvalidArgument));
  auto inv = NewInvoiceProvider(bank, 30);
  auto inv_setup = inv->Setup(ctx);
  ASSERT_THAT(inv_setup, IsOk());
  EXPECT_EQ(inv_setup->due_micros, ctx.now_micros + 30LL * 86400 * 1'000'000);
  EXPECT_THAT(inv_setup->instructions, HasSubstr("Oct 21, 2026"));
  EXPECT_TRUE(inv->ships_before_payment());
  EXPECT_TRUE(NewCashOnDeliveryProvider()->ships_before_payment());
}

}  // namespace
}  // namespace tieup::commerce
