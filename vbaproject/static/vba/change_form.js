/* The entity change form's sections as tabs (templates/admin/vba_change_form.html).
   Without this script every section shows and the tabs are plain links to them. */
"use strict";
(function () {
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var nav = document.getElementById("vba-sections");
    var tabs = nav && nav.hasAttribute("data-vba-tabs");
    var sections = Array.prototype.slice.call(document.querySelectorAll(".vba-section"));
    var links = nav ? Array.prototype.slice.call(nav.querySelectorAll(".vba-section-link")) : [];

    function show(which) {
      if (!tabs) { return; }
      sections.forEach(function (section) {
        section.hidden = which !== "all" && section.getAttribute("data-vba-section") !== String(which);
      });
      links.forEach(function (link) {
        link.classList.toggle("vba-active", link.getAttribute("data-vba-section") === String(which));
      });
      if (window.history && history.replaceState) {
        history.replaceState(null, "", which === "all" ? "#vba-all" : "#vba-section-" + which);
      }
    }

    function sectionOf(element) {
      var section = element && element.closest(".vba-section");
      return section ? section.getAttribute("data-vba-section") : null;
    }

    if (tabs) {
      document.body.classList.add("vba-tabs-on");
      var first = document.querySelector(".vba-section .errors, .vba-section .errorlist");
      var hash = window.location.hash;
      var start = sectionOf(first);
      if (!start && hash === "#vba-all") { start = "all"; }
      if (!start && /^#vba-section-\d+$/.test(hash)) { start = hash.replace("#vba-section-", ""); }
      if (!start && hash.length > 1) { start = sectionOf(document.getElementById(hash.slice(1))); }
      show(start || (sections[0] && sections[0].getAttribute("data-vba-section")));
      links.forEach(function (link) {
        link.addEventListener("click", function (event) {
          event.preventDefault();
          show(link.getAttribute("data-vba-section"));
        });
      });
    }

    /* A link of the error summary opens its field's tab and puts the cursor in the field. */
    document.querySelectorAll("#vba-error-summary a").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (!field) { return; }
        event.preventDefault();
        var section = sectionOf(field);
        if (section) { show(section); }
        field.scrollIntoView({block: "center"});
        field.focus();
      });
    });
    var summary = document.getElementById("vba-error-summary");
    if (summary) { summary.focus(); }
  });
})();
