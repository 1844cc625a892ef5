"""Running PSFEx on star selections."""
