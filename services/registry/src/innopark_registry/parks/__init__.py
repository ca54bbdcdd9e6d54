"""Parks and other infrastructure objects: create, search (full text in Russian and English,
autocomplete), export (CSV, GeoJSON), the change feed, and each park's accreditation as
the certificate events tell it."""
