"""Google's Gemini API (``generateContent``), the fourth wire: its adapter is being built (issue 36)
and is not registered yet; its pieces are pure and tested one by one."""
