"""Partner corporations: the transnational companies that post technology orders."""
