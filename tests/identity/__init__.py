"""Patient matching (engine.identity): comparators, EM, decisions, incremental index, Febrl4 and scale."""
