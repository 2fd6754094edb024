/* The main menu folds into a "Menu" button on narrow screens (a phone), and stays open on wide ones.
 *
 * base.html draws <details class="menu" open> so the menu works without script, and loads this file
 * right after it (blocking, tiny, cached) so a phone never paints the unfolded menu first. An
 * external file, because the dashboard's Content-Security-Policy allows no inline script.
 */
(function () {
  "use strict";
  var menu = document.querySelector("details.menu");
  if (!menu || !window.matchMedia) {
    return;
  }
  var wide = window.matchMedia("(min-width: 48em)");
  function fit() {
    menu.open = wide.matches;
  }
  fit();
  if (wide.addEventListener) {
    wide.addEventListener("change", fit);
  }
  // A tap outside the open menu, or Escape, folds it again (narrow screens only).
  document.addEventListener("click", function (event) {
    if (!wide.matches && menu.open && !menu.contains(event.target)) {
      menu.open = false;
    }
  });
  document.addEventListener("keydown", function (event) {
    if (!wide.matches && menu.open && event.key === "Escape") {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
}());
