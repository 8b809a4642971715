/* Reviewer pages: keyboard shortcuts and small enhancements. Everything also works without this script:
 * every shortcut has a visible link or button, and the help is a plain disclosure at the foot of the page.
 *
 *   n   Next case (submits the "Next case" form where the page has one, else goes to "My queues")
 *   j   move to the next row of a list          k   move to the previous row
 *   ?   show or hide the shortcut help           Esc close the help
 *
 * Shortcuts stay off while the person types: in inputs, textareas, selects and editable content, and
 * whenever a modifier key (Ctrl, Alt, Meta) is held, so browser and screen-reader keys keep working.
 */
(function () {
  "use strict";

  var TYPING = /^(INPUT|TEXTAREA|SELECT)$/;

  function isTyping(target) {
    if (!target || target === document.body) return false;
    if (TYPING.test(target.tagName)) return true;
    return Boolean(target.isContentEditable);
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  }

  function focusRow(step) {
    var all = rows();
    if (!all.length) return;
    var current = document.activeElement ? document.activeElement.closest("[data-row]") : null;
    var index = current ? all.indexOf(current) + step : step > 0 ? 0 : all.length - 1;
    index = Math.max(0, Math.min(all.length - 1, index));
    var row = all[index];
    all.forEach(function (r) { r.classList.remove("row--current"); });
    row.classList.add("row--current");
    var target = row.querySelector("a, button") || row;
    if (target === row && !row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
    target.focus();
    if (row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }

  function nextCase() {
    var form = document.querySelector("form[data-next-case]");
    if (form) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      return;
    }
    var home = document.querySelector('a[href="/review/"]');
    window.location.assign(home ? home.getAttribute("href") : "/review/");
  }

  function toggleHelp(open) {
    var help = document.getElementById("shortcuts");
    if (!help) return;
    var show = open === undefined ? !help.open : open;
    help.open = show;
    help.classList.toggle("shortcuts--overlay", show);
    if (show) {
      var summary = help.querySelector("summary");
      if (summary) summary.focus();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (isTyping(event.target)) return;
    var help = document.getElementById("shortcuts");
    switch (event.key) {
      case "n":
        event.preventDefault();
        nextCase();
        break;
      case "j":
        event.preventDefault();
        focusRow(1);
        break;
      case "k":
        event.preventDefault();
        focusRow(-1);
        break;
      case "?":
        event.preventDefault();
        toggleHelp();
        break;
      case "Escape":
        if (help && help.open) {
          event.preventDefault();
          toggleHelp(false);
        }
        break;
      default:
        return;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var help = document.getElementById("shortcuts");
    if (help) {
      help.addEventListener("toggle", function () {
        if (!help.open) help.classList.remove("shortcuts--overlay");
      });
    }
    // The error summary takes focus, so screen readers read it first and the keyboard starts there.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  });
})();
