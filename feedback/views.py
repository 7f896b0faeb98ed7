"""Survey pages (the public, token-addressed answer form) arrive with the surveys issue."""
