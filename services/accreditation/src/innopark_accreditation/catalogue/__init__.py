"""The versioned criteria catalogue: criteria with weights, scales and pass scores, levels."""
