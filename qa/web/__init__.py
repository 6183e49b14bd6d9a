"""Web: the Gradio chat over the public API.

``ui`` lays out the page and wires its events; ``chat`` keeps each conversation's questions in
order; ``render`` turns answers into escaped HTML; ``uploads`` and ``background`` add files
from the page and index them. Only this layer (and ``qa.cli``) turns ``QAError`` into words a
user reads.
"""
