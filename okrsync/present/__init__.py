"""How a status reads: numbers and statuses as text, triggers, chat digests, the HTML report and its
charts, the company site. Pure: documents in, text out."""
