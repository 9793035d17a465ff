"""One module per tab: handlers (plain functions tests drive without a browser) and their layout."""
