#!/usr/bin/python3
"""Writes the datasets_io test workbooks with openpyxl (Debian's python3-openpyxl), as pandas does.

usage: write_sheet_openpyxl.py OUT.xlsx KIND
  logical      the logical annotation sheet of table_test.cpp (sheet 'Coding') plus an empty sheet 'Empty'
               and a sheet 'NoHeader' whose header says 'Onset Frame'
  bad_formula  sheet 'Coding' with a formula merx cannot evaluate (=NOSUCHFUNCTION(1) in B2)

openpyxl stores no value for formula cells, so merx has to evaluate them; that is the point of this writer.
Keep the content in step with write_logical_xlsxwriter() in table_test.cpp.
"""
import sys

import openpyxl


def logical(wb):
    ws = wb.active
    ws.title = "Coding"
    ws["A1"] = "CASME II coding sheet (test)"
    header = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
              "Estimated Emotion", "Note"]
    for col, value in enumerate(header, start=1):
        if value is not None:
            ws.cell(row=2, column=col, value=value)
    # row 3: plain numbers
    for col, value in enumerate([1, "EP02_01f", "x", 46, 59, 86, "AU4+L10", "happiness", "red and plain"], 1):
        ws.cell(row=3, column=col, value=value)
    # row 4 left blank; row 5: padded id and a number stored as text, "/" apex, a float, padded text
    for col, value in enumerate(["04", "EP12_01f", None, "261", "/", 321.0, "R14A or 17A", "  disgust ", "a  b"], 1):
        if value is not None:
            ws.cell(row=5, column=col, value=value)
    # row 6: formulas without stored values, a full-width comma, a boolean
    for col, value in enumerate([26, "EP18_46", None, 0.5, "=D6+1", "=D3+1", "4，7", "sadness", True], 1):
        if value is not None:
            ws.cell(row=6, column=col, value=value)
    wb.create_sheet("Empty")
    nh = wb.create_sheet("NoHeader")
    for col, value in enumerate(["Subject", "Filename", "Onset Frame", "ApexFrame", "OffsetFrame"], 1):
        nh.cell(row=1, column=col, value=value)
    for col, value in enumerate([1, "EP02_01f", 46, 59, 86], 1):
        nh.cell(row=2, column=col, value=value)


def bad_formula(wb):
    ws = wb.active
    ws.title = "Coding"
    ws["A1"] = "Subject"
    ws["A2"] = 1
    ws["B1"] = "Value"
    ws["B2"] = "=NOSUCHFUNCTION(1)"


def main():
    out, kind = sys.argv[1], sys.argv[2]
    wb = openpyxl.Workbook()
    {"logical": logical, "bad_formula": bad_formula}[kind](wb)
    wb.save(out)


if __name__ == "__main__":
    main()
