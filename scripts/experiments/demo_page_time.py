"""How long the demo's Attention page takes to draw: first load, another head, the same text again.

    python scripts/experiments/demo_page_time.py     (reads the page's own "page drawn in N ms" caption)
"""
from streamlit.testing.v1 import AppTest

at = AppTest.from_file("sparse_edge/demo_app.py", default_timeout=120)
at.run()
at.sidebar.radio(key="page").set_value("Attention").run()
print("first load (TensorFlow and the model):", at.sidebar.caption[0].value)
at.number_input(key="head").set_value(1).run()
print("another head:", at.sidebar.caption[0].value)
at.number_input(key="head").set_value(0).run()
print("back to head 0 (cached):", at.sidebar.caption[0].value)
