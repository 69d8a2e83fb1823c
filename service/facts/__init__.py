"""Fact imports: the files sales ops exported, stored byte for byte."""
