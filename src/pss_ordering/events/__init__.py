"""The event hub: registrations, received events, and delivery to callbacks."""
