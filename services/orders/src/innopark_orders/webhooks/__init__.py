"""Partner webhooks: endpoints (`service.py`), Standard Webhooks signatures
(`signing.py`), SSRF checks of their URLs (`targets.py`), and the persisted delivery queue
and its worker (`delivery.py`)."""
