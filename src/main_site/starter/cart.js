// Fills the header on every page (static ones too): the cart count from the shop's cookie, and
// the signed-in customer's account link from the account pages' cookie (its display name; the
// session itself is a cookie scripts cannot read).
(function () {
  var m = document.cookie.match(/(?:^|;\s*)tieup_cart_count=(\d+)/);
  var count = m ? m[1] : "0";
  document.querySelectorAll("[data-cart-count]").forEach(function (el) {
    el.textContent = count;
  });
  var c = document.cookie.match(/(?:^|;\s*)tieup_customer=([^;]+)/);
  if (!c) return;
  var name;
  try { name = decodeURIComponent(c[1]); } catch (e) { return; }
  document.querySelectorAll("[data-account-link]").forEach(function (el) {
    el.textContent = "Signed in as " + name;
    el.setAttribute("href", "/account/");
  });
})();
