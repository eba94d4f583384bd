// Progressive enhancements only: every page works without this script.
// The stamp-duty form shows the exemption fields only when "exemption" is chosen.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("[data-stamp-form]");
  if (!form) return;
  var fields = form.querySelector("[data-exemption-fields]");
  function sync() {
    var exempt = form.querySelector("input[name=stamp]:checked");
    if (fields) fields.hidden = !(exempt && exempt.value === "exempt");
  }
  form.addEventListener("change", sync);
  sync();
});

// A printable sheet offers its print button (without the script the browser's own print works).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
