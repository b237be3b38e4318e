"""812 and 820 files in the shapes three retailers send (see records/data/edi):
written out in full, as an analyst would receive them."""

from __future__ import annotations

# MegaMart: everything on one line, version 5010, two interchanges reusing ISA13;
# a deduction is BCD05 "D"; a claim with lines and a header-only one.
MEGAMART_812 = (
    "ISA*00*          *00*          *08*925485MM00     *ZZ*ACMESNACKS     *260301*1200*^*00501*"
    "000004321*0*P*>~GS*CD*925485MM00*ACMESNACKS*20260301*1200*4321*X*005010~ST*812*0001~"
    "BCD*20260301*4085368832*A*31192*D*20260115*INV765571**20260110*4747948779*00*DR~"
    "CUR*BY*USD~N9*IA*123456~N9*DP*00092~N9*MR*0001~N9*RV*555123~"
    "N1*XI*MEGAMART STORES INC*UL*0614141000005~N1*SU*ACME SNACKS CO*92*123456~"
    "CDD*22*D**9548***13*CA***7.3445***BILLED NOT SHIPPED CHIPS 12OZ SEA SAL~"
    "LIN**UP*012345678905*IN*555001*VN*AC-10213~N9*CL*BNS~"
    "CDD*24*D**21644***8*CA***27.055***CARTON SHORTAGE PRETZEL~"
    "LIN**UP*012345678912*VN*AC-10073~N9*CL*CS~"
    "SE*16*0001~GE*1*4321~IEA*1*000004321~"
    "ISA*00*          *00*          *08*925485MM00     *ZZ*ACMESNACKS     *260302*1200*^*00501*"
    "000004321*0*P*>~GS*CD*925485MM00*ACMESNACKS*20260302*1200*4321*X*005010~ST*812*0001~"
    "BCD*20260302*4085368833*A*4500*D*20260120*INV765590**20260112*4747948790*00*DR~"
    "N1*XI*MEGAMART STORES INC*UL*0614141000005~SE*4*0001~GE*1*4321~IEA*1*000004321~"
)

# ShopRight: one segment per line (CRLF), a deduction is BCD05 "C"; a "D" line
# gives money back and counts against the header total.
SHOPRIGHT_812 = "\r\n".join(
    [
        "ISA*00*          *00*          *ZZ*SHOPRIGHTEDI   *ZZ*ACMESNACKS     *260305*0900*^*00501*000000077*0*P*>~",
        "GS*CD*SHOPRIGHTEDI*ACMESNACKS*20260305*0900*77*X*005010~",
        "ST*812*0001~",
        "BCD*20260305*CB7400640*A*15250*C*20260201*INV765582**20260125*948-4510065*00*CR~",
        "N9*IA*V-88812~",
        "N1*XI*SHOPRIGHT CORPORATION*UL*0037000000009~",
        "N1*SU*ACME SNACKS CO~",
        "CDD*60*C**10000***40*EA***2.5***BILLED NOT SHIPPED~",
        "LIN**UP*012345678929*VN*AC-10206~",
        "CDD*40*C**6250***5*CA***12.5***CARTON SHORT~",
        "LIN**UP*012345678936*VN*AC-10073~",
        "CDD*01*D**1000***4*EA***2.5***PRICE ADJUSTMENT BACK~",
        "LIN**VN*AC-10206~",
        "SE*12*0001~",
        "GE*1*77~",
        "IEA*1*000000077~",
        "",
    ]
)

# FreshCo: newline-separated 4010, the portal's claim number in N9*CN (BCD02 is
# the debit memo number), its own claim code per line (N9*CL).
FRESHCO_812 = "\n".join(
    [
        "ISA*00*          *00*          *ZZ*FRESHCOAP      *ZZ*ACMESNACKS     *260310*1000*U*00401*000000311*0*P*>~",
        "GS*CD*FRESHCOAP*ACMESNACKS*20260310*1000*311*X*004010~",
        "ST*812*0001~",
        "BCD*20260310*DM998877*A*17252*D*20260215*INV765663**20260201*P54963753*00*DR~",
        "N9*CN*FC30251174~",
        "N1*XI*FRESHCO GROCERS*UL*0041220000003~",
        "CDD*77*D**17252***227*EA***0.76***SHORT SHIPPED~",
        "LIN**UP*012345678943*VN*AC-10213~",
        "N9*CL*SH~",
        "SE*8*0001~",
        "GE*1*311~",
        "IEA*1*000000311~",
    ]
)

# MegaMart pays with positive ADX01 deductions; two ENT loops, the second has a
# loop-level ADX and no RMR; an RMR*IK item that is not an invoice.
MEGAMART_820 = (
    "ISA*00*          *00*          *ZZ*MEGAMART       *ZZ*ACMESNACKS     *261101*1200*^*00501*"
    "000000001*0*P*>~GS*RA*MEGAMART*ACMESNACKS*20261101*1200*1*X*005010~ST*820*0001~"
    "BPR*C*1004.56*C*ACH*CTX*01*999999999*DA*123456*1234567890**01*888888888*DA*654321*20261015~"
    "TRN*1*EFT0001*1234567890~N1*PR*MEGAMART STORES INC~N1*PE*ACME SNACKS CO~"
    "ENT*1~RMR*IV*INV-1**1034.56*1200.00~REF*PO*4747948779~ADX*165.44*22*CB*4023344501~"
    "REF*CR*CLM-77~RMR*IK*ADJ-5**-5.00~"
    "ENT*2~ADX*25.00*CB*CB*CB12346~"
    "SE*14*0001~GE*1*1~IEA*1*000000001~"
)

# ShopRight writes a deduction as a negative ADX01 (the X12 standard's sign).
SHOPRIGHT_820 = "\n".join(
    [
        "ISA*00*          *00*          *ZZ*SHOPRIGHTEDI   *ZZ*ACMESNACKS     *261102*0800*^*00501*000000042*0*P*>~",
        "GS*RA*SHOPRIGHTEDI*ACMESNACKS*20261102*0800*42*X*005010~",
        "ST*820*0042~",
        "BPR*C*850.00*C*ACH*CTX~",
        "TRN*1*SR-CHK-99~",
        "DTM*097*20261101~",
        "N1*PR*SHOPRIGHT CORPORATION~",
        "ENT*1~",
        "ADX*-50.00*CB*CB*CB7400641~",
        "RMR*IV*INV-7**900.00*1000.00~",
        "ADX*-100.00*60*CB*CB7400640~",
        "SE*10*0042~",
        "GE*1*42~",
        "IEA*1*000000042~",
    ]
)
