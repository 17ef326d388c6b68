"""The dialplan: procedures of called-number patterns and their applications."""
