"""Letters and the suggestion box (信函/意见箱): scanned pages, read with Chinese OCR."""
