"""The editors' desk: a sign-in page and composer served by `relay run` (see `routes`)."""
