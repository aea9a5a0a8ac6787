"""The Textual dashboard and the `modelrace` command line."""
