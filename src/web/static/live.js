// The payment page's live status (progressive enhancement; docs/web.md). Without JavaScript the page offers
// "Opdater status". With it, the page listens to its own server's Server-Sent Events, which relay the API's
// paymentUpdated subscription, and shows each new status where it stands, without a reload: the notice (an
// aria-live region, so screen readers hear it) and the status in the summary. The API token never reaches the
// browser; the session cookie goes with the request as with any page.
(function () {
  "use strict";
  var region = document.getElementById("payment-status");
  if (!region || !region.dataset.live || !window.EventSource) {
    return;
  }
  var source = new EventSource(region.dataset.live);
  source.addEventListener("status", function (event) {
    var update = JSON.parse(event.data);
    if (update.status === region.dataset.status) {
      return;
    }
    region.dataset.status = update.status;
    region.innerHTML = update.html; // the page's own template, rendered and escaped by its server
    var label = document.getElementById("payment-status-label");
    if (label) {
      label.textContent = update.label;
    }
  });
  source.addEventListener("end", function () {
    source.close();
    region.dataset.live = "";
  });
})();
