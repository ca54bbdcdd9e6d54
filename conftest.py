# Fixtures every test suite shares (real PostgreSQL, real broker, services as processes).
# pytester: the tests of the testing plugin itself run inner pytest sessions.
pytest_plugins = ["innopark_shared.testing", "pytester"]
