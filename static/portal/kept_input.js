// Puts back what a form held when it was posted after the session had ended
// (portal/kept_input.py): into the form of this page posted to the same address, each
// field by its name, as typed; the user checks it and sends it again. Never a file nor a
// password (the page cannot choose the one, and the other was not kept), nor a button.
// Attributes are read with getAttribute: a field named "action" or "method" hides the
// form's own properties.
(function () {
  "use strict";
  var kept = JSON.parse(document.getElementById("kept-input").textContent);
  var UNFILLED = ["file", "password", "submit", "button", "reset", "image"];

  function postedTo(form) {
    var action = new URL(form.getAttribute("action") || "", window.location.href);
    return (form.getAttribute("method") || "").toLowerCase() === "post"
      && action.pathname === kept.action;
  }

  var form = Array.prototype.find.call(document.querySelectorAll("form"), postedTo);
  if (!form) {
    return;
  }
  var taken = Object.create(null);  // how many values of each name are back in place
  form.querySelectorAll("input, select, textarea").forEach(function (field) {
    if (!field.name || field.disabled || UNFILLED.indexOf(field.type) !== -1) {
      return;
    }
    var posted = Object.prototype.hasOwnProperty.call(kept.fields, field.name);
    // A box left unticked, or a list with nothing chosen, is not posted: none was chosen.
    var values = posted ? kept.fields[field.name] : [];
    if (field.type === "checkbox" || field.type === "radio") {
      field.checked = values.indexOf(field.value) !== -1;
    } else if (field.type === "select-multiple") {
      Array.prototype.forEach.call(field.options, function (option) {
        option.selected = values.indexOf(option.value) !== -1;
      });
    } else if (posted) {
      var index = taken[field.name] || 0;
      taken[field.name] = index + 1;
      if (index < values.length) {
        field.value = values[index];
      }
    }
  });
}());
