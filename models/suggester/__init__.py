"""HS code suggestion: dense and lexical retrieval over the ruling library, aggregation into codes, answers."""
