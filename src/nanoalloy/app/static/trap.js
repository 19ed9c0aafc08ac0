// Installed first: records any script error; the browser tests read #js-status.
window.__nanoalloyErrors = [];
(function () {
  function rec(m) { window.__nanoalloyErrors.push(String(m)); }
  window.addEventListener('error', function (e) { rec('Uncaught ' + (e.message || e)); });
  window.addEventListener('unhandledrejection', function (e) { rec('Unhandled rejection ' + e.reason); });
  var ce = console.error;
  console.error = function () {
    rec('console.error: ' + Array.prototype.join.call(arguments, ' '));
    if (ce) { ce.apply(console, arguments); }
  };
})();
