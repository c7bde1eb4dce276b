// Progressive enhancement of the payment page: without JavaScript the page offers a refresh link.
// (Filled in once the API's subscriptions are available.)
