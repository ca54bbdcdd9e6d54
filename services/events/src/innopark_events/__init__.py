"""Events service: training, forums, delegations and study tours, with registration."""
