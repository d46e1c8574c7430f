"""What an ELF holds: section sizes, symbols and their attribution, an image measured."""
