"""One conformance suite for the store contract (tracehouse.store.contract), run against every store."""
