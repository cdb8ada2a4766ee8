"""Explanation maths, faithfulness metrics and the pictures. Imports no other package of ours."""
