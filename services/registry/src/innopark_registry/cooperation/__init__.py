"""Cooperation between parks: territorial clusters (members, coordinating park) and
cooperation agreements (parties, where and when signed, scope)."""
