"""Orders service: partner corporations, transnational technology orders, matching, proposals, partner webhooks."""
