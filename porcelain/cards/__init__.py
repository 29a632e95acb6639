"""Model Cards and Datasheets: their fields, what artifacts tell about themselves, rendering."""
