// Fills the header's cart count on every page (static ones too) from the shop's cookie.
(function () {
  var m = document.cookie.match(/(?:^|;\s*)tieup_cart_count=(\d+)/);
  var count = m ? m[1] : "0";
  document.querySelectorAll("[data-cart-count]").forEach(function (el) {
    el.textContent = count;
  });
})();
