# Fixtures every test suite shares (real PostgreSQL, real broker, services as processes).
pytest_plugins = ["innopark_shared.testing"]
