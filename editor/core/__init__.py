"""Shared model of the editor: documents, masks, image I/O. No Qt here."""
