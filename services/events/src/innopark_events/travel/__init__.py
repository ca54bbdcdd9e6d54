"""Travel: passport and stay details of delegates, and their visa invitation letters."""
