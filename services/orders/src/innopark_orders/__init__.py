"""Orders service: partner corporations, technology orders, matching, proposals, webhooks."""
