WHO = "ppmod via PYTHONPATH"
