"""What the app draws of data and models: figures, inside the network, the test-set map, what breaks it, comparisons."""
