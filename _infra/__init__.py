"""Shared infrastructure of every stage, about no stage: user errors, the CLI runner and argument
types, output folders and their locks, result folders, Hugging Face hub access, version stamps,
registries, and how names are shown in text and pictures. Private: users import the stages, which
re-export the errors they raise; this package imports none of them."""
