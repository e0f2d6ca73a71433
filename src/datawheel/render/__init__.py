"""Documents and terminal tables: Markdown escaping and number formatting, one renderer each."""
