"""Settings diagnostics (DESIGN §12): small checks of what will make an operation fail, each with its fix."""
