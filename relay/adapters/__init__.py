"""Platform adapters: one per platform behind the interface in `relay.adapter`."""
