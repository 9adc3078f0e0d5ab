"""What an entity is, read off its model: field names, kinds and rules (``entities``), the item
validator compiled from them (``validation``) and valid sample records (``sample_data``)."""
